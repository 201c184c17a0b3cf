//! A match that misses a variant: the right arm is the author's decision, so Rusta abstains.

pub enum Light {
    Red,
    Amber,
    Green,
}

pub fn wait_seconds(light: &Light) -> u32 {
    match light {
        Light::Red => 30,
        Light::Green => 0,
    }
}
