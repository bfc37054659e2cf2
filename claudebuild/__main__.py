from claudebuild.main import main

raise SystemExit(main())
