{
  "targets": [
    {
      "target_name": "tuntcp_native",
      "sources": ["native/tun.c", "native/tx-thread.c"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lpthread"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
