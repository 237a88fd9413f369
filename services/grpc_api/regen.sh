#!/bin/sh
# Regenerate the checked-in Python code from protos/ (make proto). The generated
# service module imports its message module by top-level name; make it relative so the
# code lives inside the netledger package.
set -e
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
"$py" -m grpc_tools.protoc -I "$here/protos" --python_out="$here/gen" --pyi_out="$here/gen" \
  --grpc_python_out="$here/gen" "$here/protos/netledger_v1.proto"
sed -i 's/^import netledger_v1_pb2 as/from . import netledger_v1_pb2 as/' "$here/gen/netledger_v1_pb2_grpc.py"
