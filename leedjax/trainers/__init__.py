"""One file per trained system: its state, its pure train step, and what it
hands to the next stage. The generic loop (`leedjax.loop`) drives them through
the `Trainer` interface of `base.py`."""
