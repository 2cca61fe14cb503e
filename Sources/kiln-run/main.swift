print("kiln-run")
