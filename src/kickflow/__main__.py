from kickflow.cli.entry import run

run()
