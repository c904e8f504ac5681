import sys

from lb.bench.cli import main

sys.exit(main())
