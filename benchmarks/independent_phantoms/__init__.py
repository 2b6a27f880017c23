"""Independent knee-CT phantoms, for EVALUATION ONLY -- never used for training.

Written without reading or importing ``kneeseg_app.core.phantom`` so that a model trained
on that generator can be measured on anatomy and physics drawn another way (issue 12).
Bones are smooth unions of implicit shapes (superelliptic tubes along curved shafts,
ellipsoidal condyles, a tilted elliptic plateau slab with eminences); soft tissue is
layered skin / fat / muscle with septa; partial volume comes from supersampling each
slice's thickness plus analytic in-plane coverage; noise is white noise shaped by a
kernel-dependent noise power spectrum.
"""
