"""What several scanner families read or judge the same way: format sniffing (:mod:`.sniff`), the
verdict on an imported dotted name that pickles, Keras configs, Hydra targets, skops schemas and
Python sources share (:mod:`.callables`), zip central directories (:mod:`.zip`) and bounded
decompression (:mod:`.codecs`).
"""
