"""The course on JupyterHub: a class of accounts, nbgrader's exchange made safe between students, the hub itself.

- :mod:`dlcourse.hub.server`: one Linux server (``dlcourse hub up|down``): local accounts, the exchange's layout,
  each role's Jupyter configuration, JupyterHub with ``deploy/jupyterhub_config.py``;
- :mod:`dlcourse.hub.exchange`: nbgrader's file exchange, hardened (the permission model and the classes);
- :mod:`dlcourse.hub.inbound`: reading a submission out of ``inbound`` without trusting it (the collection);
- :mod:`dlcourse.hub.env`: a Python every user can run when the hub's own is private;
- :mod:`dlcourse.hub.kubernetes`: what Zero to JupyterHub needs to agree with the one-server setup.
"""
