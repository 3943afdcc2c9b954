from symderiv.cli import main

raise SystemExit(main())
