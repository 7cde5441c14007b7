{
  "targets": [
    {
      "target_name": "tuntcp_native",
      "sources": ["native/tun.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
