"""``python -m ami.simulator``: run the AMI simulator from the command line."""

import sys

from ami.simulator.cli import main

sys.exit(main())
