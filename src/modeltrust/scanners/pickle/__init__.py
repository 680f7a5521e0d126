"""The pickle family: an emulated pickle machine (:mod:`.vm`) that records every import, call and
mutation a loader would perform without performing any; the scanner that judges those events
(:mod:`.scanner`: plain pickles, legacy and zip ``torch.save`` files, joblib dumps, embedded
pickles); how training-run classes are judged by their use (:mod:`.policy`); and NumPy ``.npy``
files, whose object arrays are pickles (:mod:`.numpy`).
"""
