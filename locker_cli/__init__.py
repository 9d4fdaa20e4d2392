"""The ``locker`` command: the composition root. Each area is imported lazily, inside the command
that needs it, so ``locker board`` on a locker bank never imports the cloud's stack."""
