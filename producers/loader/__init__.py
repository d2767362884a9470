"""The file loader behind `databus publish`: JSON Lines or CSV files of events, checked and sent."""
