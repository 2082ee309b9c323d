from wayline.cli import main

main()
