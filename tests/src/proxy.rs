//! A TCP proxy a test can stop and start again, to take a database away from a running
//! server (and give it back) without touching the database itself.

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Forwards connections on its own port to `target`.
pub struct TcpProxy {
    pub port: u16,
    target: String,
    task: Option<JoinHandle<()>>,
}

impl TcpProxy {
    /// Listens on a free port of 127.0.0.1.
    ///
    /// # Errors
    /// No port can be bound.
    pub async fn start(target: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let mut proxy = Self { port, target: target.to_owned(), task: None };
        proxy.task = Some(forward(listener, proxy.target.clone()));
        Ok(proxy)
    }

    /// Stops listening and cuts every open connection, as a database that went away.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    ///
    /// # Errors
    /// The port was taken meanwhile.
    pub async fn resume(&mut self) -> std::io::Result<()> {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await?;
        self.task = Some(forward(listener, self.target.clone()));
        Ok(())
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn forward(listener: TcpListener, target: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        // Dropping the set (when this task is aborted) aborts every connection's task,
        // which closes both of its sockets.
        let mut connections = JoinSet::new();
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            connections.spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(&target).await {
                    let _ = copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
            while connections.try_join_next().is_some() {}
        }
    })
}
