from nerve.cli import app

app(prog_name="nerve")
