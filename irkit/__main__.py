from irkit.cli import main

main()
