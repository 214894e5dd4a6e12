from journeylens.cli import main

main()
