# Create the project's virtual environment and install a requirements file into it.
# Sourced by the other scripts; expects PROJECT_ROOT to be set.
bootstrap_venv() {
    local requirements="$1"
    local python="${PYTHON:-python3}"
    if [ ! -x "$PROJECT_ROOT/.venv/bin/python" ]; then
        "$python" -m venv "$PROJECT_ROOT/.venv"
    fi
    "$PROJECT_ROOT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$PROJECT_ROOT/$requirements"
}
