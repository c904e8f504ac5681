import sys

from lb.worker.main import main

sys.exit(main())
