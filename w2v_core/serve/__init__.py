"""Serving the app to one person or a class: disk quotas and training jobs with their queue.

``quota``  disk limits for models, uploads and the corpus cache: least recently used first
``jobs``   TrainingJob (a training run in a worker thread), the FIFO queue that bounds runs at once, the registry

The top of the stack: these modules use the word2vec core and the data modules; nothing in ``w2v_core`` outside
this package imports them. The server's mode itself (``w2v_core.settings``) sits below, because the data loader
reads it too.
"""
