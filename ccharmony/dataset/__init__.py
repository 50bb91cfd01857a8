"""
Dataset
=======

Build, describe and verify harmonization datasets in the iHarmony4 layout:

-   :mod:`ccharmony.dataset.layout`: folder names, ids and file naming rules.
-   :mod:`ccharmony.dataset.annotations`: annotation sets (masks, patch colours, corners, crops, lists).
-   :mod:`ccharmony.dataset.config`: the typed pipeline configuration (``pipelines/*.yaml``).
-   :mod:`ccharmony.dataset.stages`: the per-image stage functions of a build.
-   :mod:`ccharmony.dataset.builder`: orchestration, the single atomic writer, resume.
-   :mod:`ccharmony.dataset.executors`: local process pool and Ray executors.
-   :mod:`ccharmony.dataset.reapply`: re-creating a composite from its recorded transfer.
-   :mod:`ccharmony.dataset.card`: the generated ``DATASET_CARD.md``.
-   :mod:`ccharmony.dataset.verify`: ``ccharmony verify``; :mod:`ccharmony.dataset.phash`.
-   :mod:`ccharmony.dataset.store`: datasets and inputs on object stores (fsspec URLs);
    :mod:`ccharmony.dataset.store_build`, :mod:`ccharmony.dataset.remote`: builds there.
"""
