"""Writing and reading files safely: what a save does with what it finds at
its path (regular files, symlinks, FIFOs, devices, sockets, directories), the
modes and owners it leaves, and failures of the system (a full or read-only
file system, long paths, racing writers). The rules are io_file.hpp's; every
check here reads the result back with the system's own calls (os.stat,
os.readlink) or the safetensors and onnx packages."""

from __future__ import annotations

import concurrent.futures
import errno
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

import fastmlp
from fastmlp import _core

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types, modes and links")

CLI = [sys.executable, "-m", "fastmlp"]


def _temporaries(*directories):
    return [p.name for d in directories for p in Path(d).iterdir() if p.name.startswith(".fastmlp-")]


def _holds(path, net):
    """Whether the safetensors package reads ``net``'s parameters, bit for bit, from ``path``."""
    tensors = load_file(str(path))
    return all(tensors[f"layers.{i}.weight"].tobytes() == w.tobytes() and
               tensors[f"layers.{i}.bias"].tobytes() == b.tobytes()
               for i, (w, b) in enumerate(zip(net.weights, net.biases)))


def _run(*args, cwd=None):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture
def net():
    return fastmlp.Network([4, 5, 3], seed=7)


# --- ONNX export: the same writer ---------------------------------------------------------


def test_onnx_export_never_writes_through_a_planted_temporary_name(tmp_path, net):
    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    path = tmp_path / "m.onnx"
    # every name a writer that derives its temporary from the path and pid could pick
    for name in (f"m.onnx.tmp{os.getpid()}", "m.onnx.tmp", "m.onnx~", ".m.onnx.tmp"):
        (tmp_path / name).symlink_to(victim)
    model = net.to_onnx(path)
    assert victim.read_bytes() == b"precious"
    assert path.read_bytes() == model.SerializeToString()
    assert onnx.load(str(path)).graph.node  # a whole model
    assert not path.is_symlink() and _temporaries(tmp_path) == []


def test_onnx_export_refuses_special_files_and_keeps_modes(tmp_path, net):
    pytest.importorskip("onnx", reason="the onnx extra is not installed")
    fifo = tmp_path / "fifo.onnx"
    os.mkfifo(fifo)
    with pytest.raises(OSError) as info:
        net.to_onnx(fifo)
    assert info.value.errno == errno.EINVAL and info.value.filename == str(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    path = tmp_path / "m.onnx"
    path.write_bytes(b"")
    path.chmod(0o600)
    net.to_onnx(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and path.stat().st_size > 0


# --- special files: never written through, never replaced ---------------------------------


def _special_files(tmp_path):
    """(name, path, stat test) of each kind of non-regular file this process can make."""
    made = [("directory", tmp_path / "dir", stat.S_ISDIR), ("fifo", tmp_path / "fifo", stat.S_ISFIFO)]
    made[0][1].mkdir()
    os.mkfifo(made[1][1])
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    sock.close()
    made.append(("socket", tmp_path / "sock", stat.S_ISSOCK))
    try:  # a device node like /dev/null (root only)
        os.mknod(tmp_path / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        made.append(("device", tmp_path / "null", stat.S_ISCHR))
    except (PermissionError, OSError):
        pass
    return made


def _writers(net):
    return {"save": net.save,
            "write_file_atomically": lambda p: _core.write_file_atomically(os.fsencode(p), b"data")}


def test_saves_refuse_every_kind_of_special_file(tmp_path, net):
    for kind, path, is_kind in _special_files(tmp_path):
        for writer_name, writer in _writers(net).items():
            with pytest.raises(OSError) as info:
                writer(path)
            expected = errno.EISDIR if kind == "directory" else errno.EINVAL
            assert info.value.errno == expected, (kind, writer_name, info.value)
            assert info.value.filename == str(path)
            assert "not a regular file" in info.value.strerror
            assert is_kind(os.lstat(path).st_mode), (kind, writer_name)
    assert _temporaries(tmp_path) == []


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_symlink_to_a_device_is_refused_and_the_device_stays(tmp_path, net):
    link = tmp_path / "m.st"
    link.symlink_to("/dev/null")
    before = os.stat("/dev/null")
    with pytest.raises(OSError, match="character device") as info:
        net.save(link)
    assert info.value.errno == errno.EINVAL
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert os.readlink(link) == "/dev/null"


@pytest.mark.parametrize("flag", ["-o", "--history"])
def test_the_command_line_refuses_a_fifo_before_training(tmp_path, flag):
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    other = tmp_path / ("h.csv" if flag == "-o" else "m.st")
    res = _run("train", "--epochs", "5", flag, str(fifo), "--history" if flag == "-o" else "-o", str(other))
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and str(fifo) in res.stderr and "FIFO" in res.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert not other.exists()  # refused before any work: the other output was never written
    assert "Accuracy" not in res.stdout


def test_the_command_line_refuses_a_plot_over_a_fifo_before_training(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    fifo = tmp_path / "plot.png"
    os.mkfifo(fifo)
    model = tmp_path / "m.st"
    res = _run("train", "--epochs", "5", "-o", str(model), "--plot", str(fifo))
    assert res.returncode == 1 and str(fifo) in res.stderr and "FIFO" in res.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and not model.exists()


# --- modes and owners ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444, 0o755])
def test_a_replaced_file_keeps_its_mode(tmp_path, net, mode):
    path = tmp_path / "m.st"
    path.write_bytes(b"old")
    path.chmod(mode)
    net.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert _holds(path, net)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root may give files away")
def test_a_replaced_file_keeps_its_owner_and_group_as_root(tmp_path, net):
    path = tmp_path / "m.st"
    path.write_bytes(b"old")
    os.chown(path, 4321, 8765)
    path.chmod(0o2750)  # set-group-ID survives the change of owner, as chown would clear it
    net.save(path)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (4321, 8765, 0o2750)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002, 0o027])
def test_a_new_file_gets_the_mode_open_would_give(tmp_path, net, umask):
    old = os.umask(umask)
    try:
        with open(tmp_path / "by_open", "wb"):
            pass
        net.save(tmp_path / "m.st")
        _core.write_file_atomically(os.fsencode(tmp_path / "w.bin"), b"x")
    finally:
        os.umask(old)
    expected = stat.S_IMODE(os.stat(tmp_path / "by_open").st_mode)
    assert expected == 0o666 & ~umask
    assert stat.S_IMODE(os.stat(tmp_path / "m.st").st_mode) == expected
    assert stat.S_IMODE(os.stat(tmp_path / "w.bin").st_mode) == expected


# --- symbolic links: followed to the file they name ---------------------------------------


def test_a_symlink_is_followed_and_stays_a_link(tmp_path, net):
    real_dir, link_dir = tmp_path / "data", tmp_path / "work"
    real_dir.mkdir()
    link_dir.mkdir()
    target = real_dir / "model.st"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = link_dir / "m.st"
    link.symlink_to(Path("..") / "data" / "model.st")  # relative: to the link's own directory
    net.save(link)
    assert os.readlink(link) == os.path.join("..", "data", "model.st")
    assert _holds(target, net) and stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert _temporaries(real_dir, link_dir) == []


def test_a_chain_of_symlinks_is_followed(tmp_path, net):
    (tmp_path / "sub").mkdir()
    target = tmp_path / "sub" / "file.st"
    (tmp_path / "b").symlink_to(target)  # absolute
    (tmp_path / "a").symlink_to("b")
    net.save(tmp_path / "a")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()
    assert _holds(target, net)


def test_a_dangling_symlink_creates_the_file_it_names(tmp_path, net):
    link = tmp_path / "m.st"
    link.symlink_to("new.st")
    net.save(link)
    assert link.is_symlink() and _holds(tmp_path / "new.st", net)
    missing_dir = tmp_path / "m2.st"
    missing_dir.symlink_to(tmp_path / "nowhere" / "new.st")
    with pytest.raises(FileNotFoundError) as info:
        net.save(missing_dir)
    assert info.value.filename == str(missing_dir)


def test_a_symlink_loop_is_eloop_and_creates_nothing(tmp_path, net):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    (tmp_path / "self").symlink_to("self")
    for name in ("a", "self"):
        with pytest.raises(OSError) as info:
            net.save(tmp_path / name)
        assert info.value.errno == errno.ELOOP and info.value.filename == str(tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "self"]
    # The system's own lookup agrees that these are loops.
    with pytest.raises(OSError) as system:
        os.stat(tmp_path / "a")
    assert system.value.errno == errno.ELOOP


def test_a_symlink_to_a_directory_or_fifo_is_refused(tmp_path, net):
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "to_dir").symlink_to("dir")
    (tmp_path / "to_fifo").symlink_to("fifo")
    with pytest.raises(IsADirectoryError):
        net.save(tmp_path / "to_dir")
    with pytest.raises(OSError, match="FIFO") as info:
        net.save(tmp_path / "to_fifo")
    assert info.value.errno == errno.EINVAL
    assert (tmp_path / "to_fifo").is_symlink() and stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)


def test_a_directory_reached_through_a_symlink(tmp_path, net):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    net.save(tmp_path / "link" / "m.st")
    assert _holds(tmp_path / "real" / "m.st", net) and (tmp_path / "link").is_symlink()
    assert _temporaries(tmp_path / "real") == []


# --- reading: regular files only, never a hang ------------------------------------------


def test_load_refuses_devices_sockets_and_directories(tmp_path):
    for kind, path, _ in _special_files(tmp_path):
        if kind == "fifo":
            continue  # below, in a process of its own
        with pytest.raises(OSError) as info:
            fastmlp.load(path)
        assert info.value.errno == (errno.EISDIR if kind == "directory" else errno.EINVAL), kind
        assert info.value.filename == str(path)
    if os.path.exists("/dev/zero"):
        with pytest.raises(OSError, match="character device, not a regular file") as info:
            fastmlp.load("/dev/zero")
        assert info.value.errno == errno.EINVAL and info.value.filename == "/dev/zero"


def test_load_of_a_fifo_without_a_writer_answers(tmp_path):
    fifo = tmp_path / "m.st"
    os.mkfifo(fifo)
    # in a process of its own, so that a load that blocks fails this test instead of hanging it
    code = "import sys, fastmlp\ntry:\n fastmlp.load(sys.argv[1])\nexcept OSError as e:\n print(e.errno, e)"
    res = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"{errno.EINVAL} ") and "FIFO" in res.stdout


def test_the_command_line_refuses_to_read_a_model_from_a_fifo(tmp_path):
    fifo = tmp_path / "m.st"
    os.mkfifo(fifo)
    data = Path(fastmlp.__file__).parent / "data" / "test.csv"
    res = subprocess.run([*CLI, "predict", str(fifo), str(data)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "FIFO" in res.stderr


# --- paths the system refuses ------------------------------------------------------------


def test_a_nul_byte_in_a_path_is_a_value_error_and_creates_nothing(tmp_path, net):
    bad = str(tmp_path / "a") + "\0b"
    writers = [net.save, lambda p: _core.write_file_atomically(p, b"x"), fastmlp.load]
    for writer in writers:
        with pytest.raises(ValueError, match="NUL byte"):
            writer(bad)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_path_is_file_not_found_as_for_open(tmp_path, net, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as system:
        open("", "wb")  # noqa: SIM115 - the system's own answer, the reference
    for call in (net.save, fastmlp.load, lambda p: _core.write_file_atomically(p, b"x")):
        with pytest.raises(FileNotFoundError) as info:
            call("")
        assert info.value.errno == system.value.errno
    assert list(tmp_path.iterdir()) == []


def test_names_and_paths_too_long_are_enametoolong(tmp_path, net):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    long_name = tmp_path / ("m" * (limit + 1))
    with pytest.raises(OSError) as info:
        net.save(long_name)
    assert info.value.errno == errno.ENAMETOOLONG and info.value.filename == str(long_name)
    with pytest.raises(OSError) as info:
        fastmlp.load(long_name)
    assert info.value.errno == errno.ENAMETOOLONG
    # a name at the limit is fine: the temporary's name is shorter
    at_limit = tmp_path / ("m" * limit)
    net.save(at_limit)
    assert _holds(at_limit, net)
    deep = tmp_path / "/".join(["d" * 200] * 25)  # past PATH_MAX
    with pytest.raises(OSError) as info:
        net.save(deep)
    assert info.value.errno == errno.ENAMETOOLONG
    assert _temporaries(tmp_path) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_permission_error(tmp_path, net):
    (tmp_path / "ro").mkdir()
    old = tmp_path / "ro" / "m.st"
    old.write_bytes(b"old")
    (tmp_path / "ro").chmod(0o555)
    try:
        with pytest.raises(PermissionError) as info:
            net.save(old)
        assert info.value.filename == str(old)
    finally:
        (tmp_path / "ro").chmod(0o755)
    assert old.read_bytes() == b"old"


def _in_own_mount(tmp_path, options, code):
    """Runs ``code`` (Python) with a tmpfs mounted at tmp_path/mnt with ``options``, in a
    private mount namespace (invisible to every other process); skips where the system
    does not let this user make one."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        pytest.skip("needs Linux's unshare")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o {options} none "$0"', str(mnt)],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace: {probe.stderr.strip()}")
    script = f'mount -t tmpfs -o {options} none "$0" && exec "$1" -c "$2" "$0"'
    res = subprocess.run(["unshare", "-rm", "sh", "-c", script, str(mnt), sys.executable, code],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


_FULL = """
import errno, os, sys, fastmlp
d = sys.argv[1]
small = fastmlp.Network([2, 1], seed=1)
small.save(d + "/m.st")
before = open(d + "/m.st", "rb").read()
big = fastmlp.Network([200, 200, 10], seed=2)  # 330 kB: more than the file system holds
try:
    big.save(d + "/m.st")
except OSError as e:
    print(errno.errorcode[e.errno], e.filename == d + "/m.st")
print(open(d + "/m.st", "rb").read() == before, sorted(os.listdir(d)))
"""


def test_a_full_file_system_leaves_the_old_file(tmp_path):
    out = _in_own_mount(tmp_path, "size=64k", _FULL).split("\n")
    assert out[0] == "ENOSPC True"
    assert out[1] == "True ['m.st']"  # the old file, and no temporary


_READ_ONLY = """
import errno, os, sys, fastmlp
d = sys.argv[1]
try:
    fastmlp.Network([2, 1], seed=1).save(d + "/m.st")
except OSError as e:
    print(errno.errorcode[e.errno], e.filename == d + "/m.st")
print(os.listdir(d))
"""


def test_a_read_only_file_system_is_erofs(tmp_path):
    out = _in_own_mount(tmp_path, "ro", _READ_ONLY).split("\n")
    assert out[0] == "EROFS True" and out[1] == "[]"


# --- racing writers ---------------------------------------------------------------------


def test_threads_saving_to_one_path_leave_one_whole_file(tmp_path):
    nets = [fastmlp.Network([8, 16, 4], seed=s) for s in range(6)]
    payloads = {net.__getstate__()["model"] for net in nets}
    path = tmp_path / "m.st"
    nets[0].save(path)
    stop = threading.Event()
    seen = []

    def read_while_writing():
        while not stop.is_set():
            seen.append(path.read_bytes())

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(len(nets)) as pool:
            list(pool.map(lambda net: [net.save(path) for _ in range(30)], nets))
    finally:
        stop.set()
        reader.join()
    assert path.read_bytes() in payloads
    assert seen and all(s in payloads for s in seen)  # never torn, never empty
    assert _temporaries(tmp_path) == []


_SAVE_MANY = """
import sys, fastmlp
net = fastmlp.Network([8, 16, 4], seed=int(sys.argv[2]))
for _ in range(40):
    net.save(sys.argv[1])
"""


def test_processes_saving_to_one_path_leave_one_whole_file(tmp_path):
    path = tmp_path / "m.st"
    procs = [subprocess.Popen([sys.executable, "-c", _SAVE_MANY, str(path), str(seed)]) for seed in (1, 2, 3)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    nets = [fastmlp.Network([8, 16, 4], seed=s) for s in (1, 2, 3)]
    assert sum(_holds(path, net) for net in nets) == 1
    assert _temporaries(tmp_path) == []


def test_history_csv_is_written_by_the_same_writer(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("old\n")
    path.chmod(0o600)
    res = _run("train", "--epochs", "3", "--history", str(path))
    assert res.returncode == 0, res.stderr
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    rows = np.loadtxt(path, delimiter=",", skiprows=1)
    assert rows.shape[0] == 3 and list(rows[:, 0]) == [1, 2, 3]
