"""Serving the app to one person or a class: disk quotas and training jobs with their queue.

``quota``       disk limits for models, uploads and the corpus cache, asked before every write (least recently used
               first; what work in progress pins stays); it installs the cache's limit in ``corpus_cache``
``jobs``        TrainingJob (a training run in the background), the FIFO queue that bounds runs at once (``slots``), the
               registry; ``trainproc`` runs a job in a process of its own, ``relay`` copies its reports into the job
``workspaces``  shared mode's workspace folders: never-used ones are removed

The top of the stack: these modules use the word2vec core and the data modules; nothing in ``w2v_core`` outside
this package imports them. The server's mode itself (``w2v_core.settings``) sits below, because the data loader
reads it too.
"""
