from kickflow.cli.main import run

run()
