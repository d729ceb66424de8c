# Shared by the mpirun launch scripts (sourced, not run).

# Open MPI refuses to start as root unless told twice.
allow_mpirun_as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}

# run_with_clean_stop COMMAND...: runs mpirun COMMAND and turns SIGTERM or
# SIGINT to this script into SIGUSR1 for mpirun, which forwards it to every
# rank (a SIGTERM to mpirun itself would kill the ranks instead of letting them
# stop at the next step with a checkpoint). Exits with mpirun's status.
run_with_clean_stop() {
  "$@" &
  local launcher=$!
  trap "kill -USR1 $launcher 2>/dev/null || true" TERM INT
  while kill -0 "$launcher" 2>/dev/null; do
    wait "$launcher" || true  # returns early when a trapped signal arrives
  done
  wait "$launcher"
}
