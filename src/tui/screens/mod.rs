//! One module per screen: how it draws, which keys it offers, what a key
//! does to the app.

pub mod checks;
pub mod deploy;
mod form_view;
pub mod hosts;
pub mod review;
pub mod settings;
pub mod summary;
pub mod topology;
pub mod welcome;

use ratatui::Frame;

use super::app::{App, Screen};
use super::chrome;

/// Draws the whole screen for the app's state.
/// The keys of the current screen (the footer shows them all, `?` and `q`
/// besides).
pub fn keys(app: &App) -> chrome::Keys {
    match app.screen {
        Screen::Welcome => welcome::keys(app),
        Screen::Topology => topology::keys(app),
        Screen::Hosts => hosts::keys(app),
        Screen::Settings => settings::keys(app),
        Screen::Checks => checks::keys(app),
        Screen::Review => review::keys(app),
        Screen::Deploy => deploy::keys(app),
        Screen::Summary => summary::keys(app),
    }
}

pub fn draw(f: &mut Frame, app: &App) {
    let keys = keys(app);
    let area = chrome::frame(f, app, &keys);
    match app.screen {
        Screen::Welcome => welcome::draw(f, area, app),
        Screen::Topology => topology::draw(f, area, app),
        Screen::Hosts => hosts::draw(f, area, app),
        Screen::Settings => settings::draw(f, area, app),
        Screen::Checks => checks::draw(f, area, app),
        Screen::Review => review::draw(f, area, app),
        Screen::Deploy => deploy::draw(f, area, app),
        Screen::Summary => summary::draw(f, area, app),
    }
    if app.help {
        chrome::help(f, app, &keys);
    }
    if app.confirm_quit {
        chrome::confirm_quit(f, app);
    }
    if !app.consent.is_empty() {
        chrome::consent(f, app);
    }
}
