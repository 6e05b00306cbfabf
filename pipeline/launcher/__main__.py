"""`python -m pipeline.launcher`: what `./run` and `newsflow up` start."""

import sys

from pipeline.launcher.cli import main

sys.exit(main())
