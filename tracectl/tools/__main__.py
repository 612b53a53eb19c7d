"""`python -m tracectl.tools [NAME …]`: build the tools (see tracectl/tools/builds.py)."""

import sys

from tracectl.tools.builds import main

sys.exit(main())
