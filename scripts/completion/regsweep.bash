# bash completion for regsweep. Keep the option lists in step with `regsweep CMD --help`:
# tests/cli/install_test.sh compares them.

_regsweep() {
  local cur prev words cword
  _init_completion -s || return

  local commands="garbage-collect gc rm prune du ls fsck restore quarantine apply"
  local gc_opts="--help --root --endpoint --s3-endpoint --config --dry-run --delete-untagged --keep-empty-repos
    --purge-uploads --delete-orphan-signatures --delete-noncurrent-versions --min-age --force
    --max-delete --quarantine --quiet
    --json --plan-out --prometheus --jobs -h -d -m -q -j"
  local rm_opts="$gc_opts --no-gc"
  local prune_opts="$gc_opts --policy --keep-n --older-than --name-regex --name-regex-keep --keep
    --pushed-within --order --allow-delete-all"
  local du_opts="--bytes --sort --top --json --csv --prometheus --html --min-age --help --quiet --root
    --endpoint --s3-endpoint --config --jobs -h -q -j"
  local ls_opts="--tags --bytes --json --help --quiet --root --endpoint --s3-endpoint --config --jobs -t -h -q -j"
  local fsck_opts="--verify-data --seed --repair --json --help --quiet --root
    --endpoint --s3-endpoint --config --jobs
    -h -q -j"
  local restore_opts="--dry-run --force --help --quiet --root --endpoint --s3-endpoint --config
    --jobs -d -h -q -j"
  local quarantine_opts="--json --purge-older-than --dry-run --help --quiet --root --endpoint
    --s3-endpoint --config --jobs -d -h -q -j"
  local apply_opts="--max-plan-age --quarantine --quiet --json --prometheus --help -h -q"

  if [[ $cword -eq 1 ]]; then
    COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
    return
  fi
  local cmd=${words[1]}
  case $prev in
    --root)
      _filedir -d
      return
      ;;
    --config | --json | --prometheus | --html | --policy | --plan-out)
      _filedir
      return
      ;;
    --sort)
      COMPREPLY=($(compgen -W "name tags tagged untagged logical exclusive shared reclaim
        reclaim-m uploads" -- "$cur"))
      return
      ;;
    --order)
      COMPREPLY=($(compgen -W "pushed semver" -- "$cur"))
      return
      ;;
    --endpoint|--s3-endpoint)
      return
      ;;
    --min-age | --purge-uploads | --jobs | -j | --top | --seed | --verify-data | --keep-n | \
      --older-than | --pushed-within | --name-regex | --name-regex-keep | --keep | \
      --purge-older-than | --max-plan-age)
      return
      ;;
  esac
  local opts
  case $cmd in
    garbage-collect | gc) opts=$gc_opts ;;
    rm) opts=$rm_opts ;;
    prune) opts=$prune_opts ;;
    du) opts=$du_opts ;;
    ls) opts=$ls_opts ;;
    fsck) opts=$fsck_opts ;;
    restore) opts=$restore_opts ;;
    quarantine) opts=$quarantine_opts ;;
    apply) opts=$apply_opts ;;
    *) return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
    return
  fi
  case $cmd in
    garbage-collect | gc | prune | du | ls | fsck | restore | quarantine) _filedir '@(yml|yaml)' ;;
    apply) _filedir json ;;
  esac
} && complete -F _regsweep regsweep
