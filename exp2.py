import subprocess, json, time, os, threading, queue
P="/work/main/tools/codex/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
env=dict(os.environ, CODEX_HOME="/root/cxh3")
p=subprocess.Popen([P,"app-server"],stdin=subprocess.PIPE,stdout=subprocess.PIPE,stderr=subprocess.DEVNULL,env=env,text=True)
def send(m): p.stdin.write(json.dumps(m)+"\n"); p.stdin.flush()
send({"id":0,"method":"initialize","params":{"clientInfo":{"name":"t","title":"t","version":"1"}}}); send({"method":"initialized"})
send({"id":1,"method":"thread/start","params":{"cwd":"/tmp"}})
t0=time.time(); tid=None
for line in p.stdout:
    m=json.loads(line)
    if m.get("id")==1:
        tid=m["result"]["thread"]["id"]; send({"id":2,"method":"turn/start","params":{"threadId":tid,"input":[{"type":"text","text":"hi"}]}})
    meth=m.get("method","")
    if meth in ("error","warning") or "error" in meth.lower():
        print(round(time.time()-t0,2), json.dumps(m)[:400], flush=True)
    if time.time()-t0>12: break
p.kill()
