import sys

from labship.cli import main

sys.exit(main())
