"""The course website: every lecture executed with its outputs, every assignment's student version, a home page,
a glossary and search, built offline with Sphinx and MyST-NB (``dlcourse site``).

- :mod:`dlcourse.site.sources` lays out the Sphinx sources (copies of the notebooks, the home page, the glossary);
- :mod:`dlcourse.site.glossary` gathers the course's terms from ``docs/terms.json`` and the lectures' glossaries;
- :mod:`dlcourse.site.config` is the Sphinx configuration (theme, offline MathJax, execution cache, run times);
- :mod:`dlcourse.site.assets` holds the small static files the pages use (the Colab badge, a stylesheet);
- :mod:`dlcourse.site.slides` makes a reveal.js deck of every lecture with slide metadata (reveal.js from npm);
- :mod:`dlcourse.site.build` stages the sources, runs Sphinx and reports the times.
"""
