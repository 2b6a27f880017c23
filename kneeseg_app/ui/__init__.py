"""The KneeSeg desktop window (the only package that imports Qt / pyqtgraph).

Layout (ndv-style): Qt-free logic (``display_geometry``, ``window_level``, ``overlay``,
``batch_logic``, ``exporting``) and controllers holding state and decisions
(QObjects with signals but no widgets) are tested without a window; widgets only
show state and forward user actions. ``app.run_app`` is the entry point.
Importing this package loads nothing heavy.
"""
