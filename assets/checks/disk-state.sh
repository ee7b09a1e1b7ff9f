# disk_state DEV: what a data disk holds, failing closed. Sets
#   ds_state  blank | ours | fs | mounted | busy | unknown | missing
#   ds_why    code[:detail] when the disk is not blank (busy, unknown, missing)
#   ds_fs     the filesystem type, ds_mnt where it is mounted, ds_mm major:minor
# A disk is blank only when nothing uses it (no mount through any of its
# names, no swap, no holders, no partitions), blkid's low-level probe finds
# no partition table and no signature, and its first and last MiB read as
# zeros. Whatever cannot be read or run makes it "unknown", never "blank".
disk_state() {
  ds_dev=$1; ds_state=unknown; ds_why=; ds_fs=; ds_mnt=; ds_mm=
  if [ ! -b "$ds_dev" ]; then ds_state=missing; ds_why=not-block; return 0; fi
  ds_t=$(stat -L -c '%t %T' "$ds_dev" 2>/dev/null) || { ds_why=unknown:stat; return 0; }
  # shellcheck disable=SC2086
  set -- $ds_t
  ds_mm=$(printf '%d:%d' "0x$1" "0x$2")
  # Mounted through any name (by-id, by-uuid, a symlink): by device number.
  ds_mnt=$(awk -v mm="$ds_mm" '$3 == mm { print $5; exit }' /proc/self/mountinfo)
  if [ -n "$ds_mnt" ]; then
    ds_state=mounted
    ds_fs=$(blkid -p -o value -s TYPE "$ds_dev" 2>/dev/null)
    return 0
  fi
  ds_sw=$(awk 'NR > 1 { print $1 }' /proc/swaps 2>/dev/null | while read -r s; do
    [ "$(stat -L -c '%t %T' "$s" 2>/dev/null)" = "$ds_t" ] && echo "$s"; done)
  if [ -n "$ds_sw" ]; then ds_state=busy; ds_why=swap; return 0; fi
  ds_sys=/sys/dev/block/$ds_mm
  if [ -d "$ds_sys/holders" ] && [ -n "$(ls -A "$ds_sys/holders" 2>/dev/null)" ]; then
    ds_state=busy; ds_why="holders:$(ls "$ds_sys/holders" | tr '\n' ' ' | sed 's/ $//')"; return 0
  fi
  ds_parts=$(for p in "$ds_sys"/*/partition; do [ -e "$p" ] && basename "$(dirname "$p")"; done | tr '\n' ' ' | sed 's/ $//')
  if [ -n "$ds_parts" ]; then ds_state=busy; ds_why="partitions:$ds_parts"; return 0; fi
  command -v blkid >/dev/null 2>&1 || { ds_why=no-blkid; return 0; }
  ds_out=$(blkid -p -o export "$ds_dev" 2>/dev/null); ds_rc=$?
  case $ds_rc in
    0) ;;
    2) ds_out= ;;
    *) ds_why="unknown:blkid -p exited with $ds_rc"; return 0 ;;
  esac
  ds_pt=$(printf '%s\n' "$ds_out" | sed -n 's/^PTTYPE=//p')
  ds_fs=$(printf '%s\n' "$ds_out" | sed -n 's/^TYPE=//p')
  if [ -n "$ds_pt" ]; then ds_state=busy; ds_why="pttype:$ds_pt"; return 0; fi
  if [ -n "$ds_fs" ]; then
    if [ "$(printf '%s\n' "$ds_out" | sed -n 's/^USAGE=//p')" = filesystem ]; then
      if [ "$(printf '%s\n' "$ds_out" | sed -n 's/^LABEL=//p')" = cdwiz-data ]; then ds_state=ours; else ds_state=fs; fi
      return 0
    fi
    ds_state=busy; ds_why="signature:$ds_fs"; return 0
  fi
  ds_size=$(blockdev --getsize64 "$ds_dev" 2>/dev/null) || { ds_why=unknown:size; return 0; }
  ds_skip=0; [ "$ds_size" -gt 1048576 ] && ds_skip=$((ds_size - 1048576))
  cmp -s -n 1048576 "$ds_dev" /dev/zero; ds_r1=$?
  cmp -s -n 1048576 -i "$ds_skip:0" "$ds_dev" /dev/zero; ds_r2=$?
  if [ $ds_r1 -gt 1 ] || [ $ds_r2 -gt 1 ]; then ds_why=read-error; return 0; fi
  if [ $ds_r1 -eq 1 ]; then ds_state=busy; ds_why=data-first-mib; return 0; fi
  if [ $ds_r2 -eq 1 ]; then ds_state=busy; ds_why=data-last-mib; return 0; fi
  ds_state=blank
}
