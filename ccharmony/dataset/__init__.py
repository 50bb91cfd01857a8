"""
Dataset
=======

Build, describe and verify harmonization datasets in the iHarmony4 layout:

-   :mod:`ccharmony.dataset.layout`: folder names, ids and file naming rules.
"""
