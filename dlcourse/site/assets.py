"""The static files the site serves itself, so that no page loads anything from the internet.

The notebooks' "Open in Colab" badge is an image on colab.research.google.com; the site shows this local copy
instead (the link still opens the notebook in Colab).
"""

from __future__ import annotations

COLAB_BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
"""The badge image every notebook's first cell shows (see ``course_utils.colab.colab_badge``)."""

COLAB_BADGE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img"
     aria-label="Open In Colab">
<title>Open In Colab</title>
<rect width="117" height="20" rx="3" fill="#555"/>
<rect x="20" width="97" height="20" rx="3" fill="#f9ab00"/>
<rect x="20" width="6" height="20" fill="#f9ab00"/>
<circle cx="10" cy="10" r="5" fill="none" stroke="#f9ab00" stroke-width="2.5"/>
<text x="68" y="14" fill="#fff" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11"
      text-anchor="middle">Open in Colab</text>
</svg>
"""

SITE_CSS = """/* The course site: small additions to the Furo theme. */
.nb-runtime { font-size: 0.85em; color: var(--color-foreground-secondary); margin-top: -0.5em; }
.nb-widget-note { font-size: 0.9em; color: var(--color-foreground-secondary); font-style: italic; }
.cell_output img { max-width: 100%; height: auto; }
"""

FILES = {"colab-badge.svg": COLAB_BADGE_SVG, "site.css": SITE_CSS}
"""What goes into the site's ``_static`` folder: file name -> text."""
