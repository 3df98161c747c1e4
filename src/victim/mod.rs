//! The victim: a live program that holds one secret in a chosen protection and keeps using it.
