//! `scripted-model --listen ADDR`: the scripted Responses API server, out of
//! process, for tests that are not written in Rust (the browser tests) and for
//! `perch-bench`. Prints `listening http://ADDR` as its first line.

use perch_test_support::ScriptedModel;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut listen = "127.0.0.1:0".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().unwrap_or(listen),
            other => {
                eprintln!("scripted-model: unknown argument {other:?}; usage: scripted-model [--listen ADDR]");
                std::process::exit(2);
            }
        }
    }
    let model = ScriptedModel::start_on(&listen).await?;
    println!("listening http://{}", model.addr());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
