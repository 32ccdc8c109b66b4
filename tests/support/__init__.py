"""What several test modules start or build alike (a JupyterLab server, a headless browser); no tests here."""
