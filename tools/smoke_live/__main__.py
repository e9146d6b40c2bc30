"""`python -m tools.smoke_live --mode gemini_api|vertex`: see tools.smoke_live."""
import sys

from tools.smoke_live.cli import main

sys.exit(main())
