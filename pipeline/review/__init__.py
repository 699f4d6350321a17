"""Review and correct results in the browser: ``python -m pipeline.review RESULTS_DIR``.

``store`` (the results folder), ``app`` (the token-guarded API and the page), ``static/`` (plain HTML, CSS and
JavaScript: nothing fetched from outside, no build step), ``__main__`` (the command line).
"""
