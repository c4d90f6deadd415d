{
  "targets": [
    {
      "target_name": "fsmap",
      "sources": ["fsmap.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
