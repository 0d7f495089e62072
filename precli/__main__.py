from precli.cli.app import main

main()
