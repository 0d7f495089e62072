from precli.cli import main

main()
