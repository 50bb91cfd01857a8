"""Allow ``python -m ccharmony``."""

import sys

from ccharmony.cli import main

sys.exit(main())
