/**
 * The container of a Docker VPS: its spec, and the shell script that runs as its main process and sets up
 * the OpenSSH server.
 *
 * The script installs sshd only when `/usr/sbin/sshd` is missing, with the package manager named by the
 * ID and ID_LIKE fields of the container's own /etc/os-release, so a restarted container or one created
 * from a snapshot does not install it again. The public key reaches the script in an environment
 * variable and is written with printf, so no key text is ever parsed as shell code.
 */

import { join } from "node:path";

import {
  LABEL_NODE,
  LABEL_TASK_ID,
  LABEL_TASK_TYPE,
  vpsContainerName,
  type ParsedRunnerVpsCreateRequest,
} from "@kohakuriver/api";

import type { RunnerConfig } from "../config.js";
import type { TaskContainerSpec } from "../driver/types.js";
import { parseMounts } from "../tasks/container-spec.js";

/** Label with the VPS generation (restart count), so an adopted container is matched to the right dispatch. */
export const LABEL_GENERATION = "kohakuriver.generation";

/** The SSH port inside the container. */
export const SSH_CONTAINER_PORT = 22;

/** Line the script prints before sshd starts; the runner then waits for the SSH banner on the port. */
export const SSHD_STARTING_LINE = "kohakuriver-vps: starting sshd";

export const SSHD_SETUP_SCRIPT = `set -eu
log() { printf 'kohakuriver-vps: %s\\n' "$*" >&2; }
mode="\${KOHAKURIVER_SSH_KEY_MODE:-disabled}"
if [ "$mode" = disabled ]; then
  log "SSH is disabled for this VPS; use the terminal"
  exec tail -f /dev/null
fi

os_field() {
  [ -r /etc/os-release ] || return 0
  sed -n "s/^$1=//p" /etc/os-release | tr -d '"' | head -n 1
}

install_sshd() {
  families="$(os_field ID) $(os_field ID_LIKE)"
  log "installing the OpenSSH server (distribution: $families)"
  for family in $families; do
    case "$family" in
      debian | ubuntu)
        export DEBIAN_FRONTEND=noninteractive
        # The image's package lists are tried first; an update is needed only when they are missing or stale.
        apt-get install -y --no-install-recommends openssh-server ||
          { apt-get update && apt-get install -y --no-install-recommends openssh-server; }
        return ;;
      alpine) apk add --no-cache openssh-server || apk add --no-cache openssh; return ;;
      fedora | rhel | centos | rocky | almalinux | amzn)
        if command -v dnf >/dev/null 2>&1; then dnf install -y openssh-server; else yum install -y openssh-server; fi
        return ;;
      opensuse* | suse | sles) zypper --non-interactive install openssh-server || zypper --non-interactive install openssh; return ;;
      arch | archlinux) pacman -Sy --noconfirm openssh; return ;;
    esac
  done
  log "cannot install sshd: /etc/os-release names no known distribution ($families); use an image with openssh-server installed"
  exit 1
}

[ -x /usr/sbin/sshd ] || install_sshd
if [ ! -x /usr/sbin/sshd ]; then
  log "the package install finished but /usr/sbin/sshd is missing"
  exit 1
fi

ssh-keygen -A >/dev/null
mkdir -p /run/sshd /root/.ssh
chmod 0755 /run/sshd
chmod 0700 /root/.ssh
if [ "$mode" = none ]; then
  passwd -d root >/dev/null
  set -- -o PermitRootLogin=yes -o PasswordAuthentication=yes -o PermitEmptyPasswords=yes
else
  printf '%s\\n' "\${KOHAKURIVER_SSH_AUTHORIZED_KEY:?no public key given}" >/root/.ssh/authorized_keys
  chmod 0600 /root/.ssh/authorized_keys
  set -- -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no
fi
log "starting sshd"
# MaxStartups is raised from OpenSSH's 10:30:100, which drops new connections while ten are still
# authenticating: a burst of parallel sessions (scripts, IDEs, rsync) would fail at random.
exec /usr/sbin/sshd -D -e -o MaxStartups=100:30:200 "$@"
`;

export interface VpsSpecContext {
  config: RunnerConfig;
  nodeName: string;
  network: string | null;
  /** The image to run: the environment image, or the snapshot being restored. */
  image: string;
}

export function buildVpsContainerSpec(
  request: ParsedRunnerVpsCreateRequest,
  context: VpsSpecContext,
): TaskContainerSpec {
  const { config } = context;
  const env: Record<string, string> = { KOHAKURIVER_SSH_KEY_MODE: request.ssh_key_mode };
  if (request.ssh_public_key !== null) env.KOHAKURIVER_SSH_AUTHORIZED_KEY = request.ssh_public_key;

  const privileged = request.privileged || config.TASKS_PRIVILEGED;
  return {
    name: vpsContainerName(request.task_id),
    image: context.image,
    cmd: ["/bin/sh", "-c", SSHD_SETUP_SCRIPT],
    env,
    labels: {
      [LABEL_TASK_ID]: request.task_id,
      [LABEL_TASK_TYPE]: "vps",
      [LABEL_NODE]: context.nodeName,
      [LABEL_GENERATION]: String(request.generation),
    },
    workingDir: request.working_dir,
    binds: [
      { source: join(config.SHARED_DIR, "shared_data"), target: "/shared" },
      { source: config.LOCAL_TEMP_DIR, target: "/local_temp" },
      ...parseMounts([...config.ADDITIONAL_MOUNTS, ...request.additional_mounts]),
    ],
    cores: request.required_cores,
    memoryBytes: request.required_memory_bytes,
    cpusetCpus: null,
    cpusetMems: null,
    gpuIds: request.required_gpus,
    privileged,
    capAdd: privileged ? [] : ["SYS_NICE"],
    network: context.network,
    ipAddress: request.reserved_ip,
    publishPorts: request.ssh_key_mode === "disabled" ? [] : [SSH_CONTAINER_PORT],
    restartPolicy: "unless-stopped",
    init: true,
  };
}
