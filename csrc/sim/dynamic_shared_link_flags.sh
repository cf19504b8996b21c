#!/usr/bin/env bash
# Prints the linker flags that make every `extern __shared__` array of the given objects an alias
# of the simulator's dynamic shared memory (the TLS symbol cnnops_sim_dynamic_shared).
#
#   g++ ... $(csrc/sim/dynamic_shared_link_flags.sh kernels.o other.o ...)
#
# Under the simulator `extern __shared__ float smem[];` declares a thread-local array that no
# translation unit defines. Such names are exactly the undefined TLS symbols of the kernel
# objects; each gets -Wl,--defsym=NAME=cnnops_sim_dynamic_shared. A name outside an anonymous
# namespace also comes with a weak reference to its TLS init function (_ZTH...), which g++ may
# call without testing it for null in position-independent code: each is defined as the empty
# __tls_init of sim_tls.cpp. Pass every object of the link:
# a TLS symbol that one of them defines is left alone. With -flto, compile with
# -ffat-lto-objects: slim LTO objects carry no symbol table for readelf to read.
set -euo pipefail
READELF=${READELF:-readelf}
[ $# -gt 0 ] || exit 0
if "$READELF" -sW "$@" 2>/dev/null | grep -q '__gnu_lto_slim'; then
  echo "dynamic_shared_link_flags.sh: slim LTO objects hide their symbols; compile with -ffat-lto-objects" >&2
  exit 1
fi
# readelf -sW columns: Num Value Size Type Bind Vis Ndx Name
"$READELF" -sW "$@" | awk '
  $4 == "TLS" && $7 == "UND" { undefined[$8] = 1 }
  $4 == "TLS" && $7 != "UND" { defined[$8] = 1 }
  $7 == "UND" && $8 ~ /^_ZTH/ { init[$8] = 1 }
  $7 != "UND" && $8 ~ /^_ZTH/ { init_defined[$8] = 1 }
  END {
    for (name in init)
      if (!(name in init_defined))
        printf "-Wl,--defsym=%s=__tls_init\n", name
    for (name in undefined)
      if (!(name in defined) && name !~ /^cnnops_sim_/ && name !~ /^_ZN6cnnops3sim/)
        printf "-Wl,--defsym=%s=cnnops_sim_dynamic_shared\n", name
  }' | sort -u | tr '\n' ' '
